"""OrgPulse: org-level analytics and implementation health for B2B SaaS operators."""

__version__ = "0.1.0"
