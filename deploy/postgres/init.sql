-- Bootstrap of the OCOP database for a managed PostgreSQL: roles, schemas and grants.
--
-- The same steps as shared/dbadmin.py (the first half of `ocop migrate`), in plain SQL for a DBA who
-- prefers to run, or review, them by hand; tests/deploy checks that both leave identical grants.
-- Run it as the administrator, connected to the application's database (create that first), with
-- one password per process role:
--
--   psql "postgresql://ADMIN@HOST:5432/ocop" --no-psqlrc \
--        -v gateway_password="$OCOP_GATEWAY_DB_PASSWORD" -v registry_password="$OCOP_REGISTRY_DB_PASSWORD" \
--        -v scoring_password="$OCOP_SCORING_DB_PASSWORD" -v stamps_password="$OCOP_STAMPS_DB_PASSWORD" \
--        -f deploy/postgres/init.sql
--
-- It is idempotent: running it again changes nothing but the passwords. Roles are cluster-wide:
-- they are created when missing and altered otherwise, and never dropped here.
-- On a managed server whose administrator is not a superuser (RDS, Cloud SQL, Azure), the admin is
-- made a member of each role, which CREATE SCHEMA ... AUTHORIZATION requires there.
-- Like any ALTER ROLE ... PASSWORD, the passwords reach the server log when log_statement is 'ddl'
-- or 'all': check that setting first.

\set ON_ERROR_STOP on

-- Fail early with a message rather than create a role with the literal text ":'x_password'".
\if :{?gateway_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'init.sql: pass -v gateway_password=...'; END $$;
\endif
\if :{?registry_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'init.sql: pass -v registry_password=...'; END $$;
\endif
\if :{?scoring_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'init.sql: pass -v scoring_password=...'; END $$;
\endif
\if :{?stamps_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'init.sql: pass -v stamps_password=...'; END $$;
\endif

BEGIN;

-- The same lock as shared/dbadmin.py: two bootstraps on one cluster (roles are cluster-wide) wait
-- for each other instead of racing on CREATE ROLE.
DO $$ BEGIN PERFORM pg_advisory_xact_lock(4242); END $$;

SELECT current_database() AS dbname \gset

-- Nobody gets anything by default: no CONNECT on the database, no USAGE/CREATE on public.
REVOKE ALL ON DATABASE :"dbname" FROM PUBLIC;
REVOKE ALL ON SCHEMA public FROM PUBLIC;

-- Extensions live in a schema of their own that every role may use, never in a service's schema.
CREATE SCHEMA IF NOT EXISTS extensions;
REVOKE ALL ON SCHEMA extensions FROM PUBLIC;
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA extensions;

-- One block per process of shared/topology.py: a login role, and a schema it owns alone.

-- gateway
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ocop_gateway') THEN
    CREATE ROLE ocop_gateway;
  END IF;
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    GRANT ocop_gateway TO CURRENT_USER;
  END IF;
END $$;
ALTER ROLE ocop_gateway LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'gateway_password';
GRANT CONNECT, TEMPORARY ON DATABASE :"dbname" TO ocop_gateway;
GRANT USAGE ON SCHEMA extensions TO ocop_gateway;
CREATE SCHEMA IF NOT EXISTS gateway AUTHORIZATION ocop_gateway;
ALTER SCHEMA gateway OWNER TO ocop_gateway;
REVOKE ALL ON SCHEMA gateway FROM PUBLIC;

-- registry
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ocop_registry') THEN
    CREATE ROLE ocop_registry;
  END IF;
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    GRANT ocop_registry TO CURRENT_USER;
  END IF;
END $$;
ALTER ROLE ocop_registry LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'registry_password';
GRANT CONNECT, TEMPORARY ON DATABASE :"dbname" TO ocop_registry;
GRANT USAGE ON SCHEMA extensions TO ocop_registry;
CREATE SCHEMA IF NOT EXISTS registry AUTHORIZATION ocop_registry;
ALTER SCHEMA registry OWNER TO ocop_registry;
REVOKE ALL ON SCHEMA registry FROM PUBLIC;

-- scoring
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ocop_scoring') THEN
    CREATE ROLE ocop_scoring;
  END IF;
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    GRANT ocop_scoring TO CURRENT_USER;
  END IF;
END $$;
ALTER ROLE ocop_scoring LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'scoring_password';
GRANT CONNECT, TEMPORARY ON DATABASE :"dbname" TO ocop_scoring;
GRANT USAGE ON SCHEMA extensions TO ocop_scoring;
CREATE SCHEMA IF NOT EXISTS scoring AUTHORIZATION ocop_scoring;
ALTER SCHEMA scoring OWNER TO ocop_scoring;
REVOKE ALL ON SCHEMA scoring FROM PUBLIC;

-- stamps
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ocop_stamps') THEN
    CREATE ROLE ocop_stamps;
  END IF;
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    GRANT ocop_stamps TO CURRENT_USER;
  END IF;
END $$;
ALTER ROLE ocop_stamps LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'stamps_password';
GRANT CONNECT, TEMPORARY ON DATABASE :"dbname" TO ocop_stamps;
GRANT USAGE ON SCHEMA extensions TO ocop_stamps;
CREATE SCHEMA IF NOT EXISTS stamps AUTHORIZATION ocop_stamps;
ALTER SCHEMA stamps OWNER TO ocop_stamps;
REVOKE ALL ON SCHEMA stamps FROM PUBLIC;

COMMIT;
