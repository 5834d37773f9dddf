"""Operations: health endpoint (rollout, checklist, diagnostics and support arrive later)."""
