-- Group commit for CityOS's database (run on it by scripts/bootstrap.sh, and on the benchmark
-- database by bench/setup.py): per database, so other databases of a shared cluster are untouched.
--
-- A commit waits for its WAL flush (fdatasync). Under concurrent writes (bookings: every one is
-- its own durable commit) the backend about to flush first waits commit_delay microseconds when at
-- least commit_siblings other transactions are open, so one flush carries more commits. Below
-- that load nothing waits. synchronous_commit stays on: every acknowledged commit is durable.
-- Measured (bench livelihood, 8 booking processes, load ~5): ~395 -> ~455 bookings/s.
-- Needs a superuser (these are superuser settings): bootstrap runs it as postgres.
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET commit_delay = 500', current_database());
    EXECUTE format('ALTER DATABASE %I SET commit_siblings = 3', current_database());
END
$$;
