-- Issue 16: time-driven work (src/schedule/). The SLA clock of a case: which target runs
-- (first_response | next_response, NULL when none), when it started (the customer's mail
-- that started it: also the key that makes each warning and breach once per target), and
-- when it reaches 80 % and 100 % in business time. While waiting_since is set the clock is
-- stopped; when the customer writes, warn and due move by the business time left. Unix ms.
ALTER TABLE cases ADD COLUMN sla_target TEXT;
ALTER TABLE cases ADD COLUMN sla_started_at INTEGER;
ALTER TABLE cases ADD COLUMN sla_warn_at INTEGER;
ALTER TABLE cases ADD COLUMN sla_due_at INTEGER;
CREATE INDEX cases_sla_warn ON cases (sla_warn_at);
CREATE INDEX cases_waiting ON cases (waiting_since);

-- Each due item the scheduler made (a reminder, an auto-close, an SLA warning or breach,
-- the morning digest), claimed by inserting its key in the transaction that queues its
-- mail: a second process or a restart finds the key taken and does nothing. period tells
-- the cycles of one case apart (the SLA clock's start, the waiting_since of a reminder,
-- the digest's local day as YYYYMMDD); case_id is 0 for desk-wide items.
CREATE TABLE scheduled_done (
    item     TEXT NOT NULL,
    case_id  INTEGER NOT NULL,
    period   INTEGER NOT NULL,
    done_at  INTEGER NOT NULL,
    PRIMARY KEY (item, case_id, period)
);
