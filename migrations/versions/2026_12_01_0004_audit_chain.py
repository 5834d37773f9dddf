"""Audit records: structured query fields, a SHA-256 hash chain, append-only by grants too.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Why a trigger: every writer (``audit.record``, a future bulk writer, an operator's psql session) is
chained, and the canonical serialization exists once, in SQL; ``orgpulse audit verify``
recomputes it independently in Python (``audit/chain.py``). The trigger serializes inserts with a
transaction-scoped advisory lock and assigns ``audit_id`` itself, *inside* the lock: an identity
default is drawn before BEFORE triggers run, so two concurrent inserts could take ids in one order
and the lock in the other, and the chain would not follow ``audit_id`` order. Existing rows are
chained here in ``audit_id`` order (the table is locked by the ALTERs for the whole migration).

Canonical form (must match ``orgpulse.audit.chain.canonical``): the ASCII tag ``orgpulse-audit-v1``
followed by each field as ``<UTF-8 byte length>:<text>`` or ``-`` when NULL, in this order:
audit_id, at (UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``), actor_user_id, actor_kind, org_id, action,
target, outcome, details (``jsonb::text``, PostgreSQL's normalized JSON), request_id, ip,
query_type, cohort_size, suppressed (``true``/``false``), export_kind.
hash = sha256(canonical || prev_hash); the first record's prev_hash is 32 zero bytes.
"""

from alembic import context, op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The chain's advisory lock is the two-int key (24949, 0): apart from ingestion's projection class
# 28528 and the jobs' one-bigint keys. It must match orgpulse.audit.chain.CHAIN_LOCK_CLASS.

SCHEMA = r"""
ALTER TABLE audit_records
    ADD COLUMN query_type  text,
    ADD COLUMN cohort_size integer CHECK (cohort_size >= 0),
    ADD COLUMN suppressed  boolean,
    ADD COLUMN export_kind text CHECK (export_kind IN ('csv', 'pdf')),
    ADD COLUMN prev_hash   bytea,
    ADD COLUMN hash        bytea;

-- audit_id is assigned by the chaining trigger under the lock (see the module docstring).
ALTER TABLE audit_records ALTER COLUMN audit_id DROP IDENTITY;
CREATE SEQUENCE audit_records_audit_id_seq OWNED BY audit_records.audit_id;
SELECT setval('audit_records_audit_id_seq', COALESCE(max(audit_id), 0) + 1, false)
    FROM audit_records;

CREATE FUNCTION audit_records_field(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN value IS NULL THEN '-'
                      ELSE octet_length(convert_to(value, 'UTF8')) || ':' || value END $$;

CREATE FUNCTION audit_records_digest(r audit_records) RETURNS bytea
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT sha256(convert_to('orgpulse-audit-v1'
        || audit_records_field(r.audit_id::text)
        || audit_records_field(
               to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
        || audit_records_field(r.actor_user_id::text)
        || audit_records_field(r.actor_kind)
        || audit_records_field(r.org_id::text)
        || audit_records_field(r.action)
        || audit_records_field(r.target)
        || audit_records_field(r.outcome)
        || audit_records_field(r.details::text)
        || audit_records_field(r.request_id)
        || audit_records_field(r.ip)
        || audit_records_field(r.query_type)
        || audit_records_field(r.cohort_size::text)
        || audit_records_field(r.suppressed::text)
        || audit_records_field(r.export_kind), 'UTF8') || r.prev_hash) $$;

CREATE FUNCTION audit_records_genesis() RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT decode(repeat('00', 32), 'hex') $$;

-- Chain every existing record in audit_id order (the append-only trigger is off meanwhile).
ALTER TABLE audit_records DISABLE TRIGGER audit_records_no_update;
DO $$
DECLARE
    r audit_records;
    prev bytea := audit_records_genesis();
BEGIN
    FOR r IN SELECT * FROM audit_records ORDER BY audit_id LOOP
        r.prev_hash := prev;
        r.hash := audit_records_digest(r);
        UPDATE audit_records SET prev_hash = r.prev_hash, hash = r.hash
            WHERE audit_id = r.audit_id;
        prev := r.hash;
    END LOOP;
END $$;
ALTER TABLE audit_records ENABLE TRIGGER audit_records_no_update;
ALTER TABLE audit_records
    ALTER COLUMN prev_hash SET NOT NULL,
    ALTER COLUMN hash SET NOT NULL;

-- Any audit_id, prev_hash or hash the writer supplies is replaced. The last hash is read after
-- the lock is granted; in READ COMMITTED that statement's snapshot includes the previous
-- holder's committed record. A REPEATABLE READ snapshot may predate it, which would fork the chain.
CREATE FUNCTION audit_records_chain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'audit records must be written in a READ COMMITTED transaction';
    END IF;
    PERFORM pg_advisory_xact_lock(24949, 0);
    NEW.audit_id := nextval('audit_records_audit_id_seq');
    NEW.prev_hash := COALESCE(
        (SELECT hash FROM audit_records ORDER BY audit_id DESC LIMIT 1),
        audit_records_genesis());
    NEW.hash := audit_records_digest(NEW);
    RETURN NEW;
END $$;
CREATE TRIGGER audit_records_chain BEFORE INSERT ON audit_records
    FOR EACH ROW EXECUTE FUNCTION audit_records_chain();
"""


def upgrade() -> None:
    role = context.config.attributes["app_role"]
    op.execute(SCHEMA)
    # 0001 granted only SELECT, INSERT; revoke the rest explicitly so the grants, not just the
    # trigger, make the table append-only for the app role (TRUNCATE fires no row trigger).
    op.execute(f'REVOKE UPDATE, DELETE, TRUNCATE ON audit_records FROM PUBLIC, "{role}"')
    op.execute(f'GRANT SELECT, INSERT ON audit_records TO "{role}"')
    op.execute(f'GRANT USAGE, SELECT ON SEQUENCE audit_records_audit_id_seq TO "{role}"')


def downgrade() -> None:
    raise NotImplementedError("the audit chain cannot be downgraded; restore a backup")
