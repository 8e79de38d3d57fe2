-- Issue 18: mailboxes as queues. A case belongs to the mailbox it came in by (its mail goes
-- out from that address); cases made before mailboxes existed came in by the one `[imap]`
-- mailbox, which is named `default`.
ALTER TABLE cases ADD COLUMN mailbox TEXT NOT NULL DEFAULT 'default';
CREATE INDEX cases_mailbox ON cases (mailbox, updated_at);

-- Which of the desk's own addresses the mail that opened a case was written to: a mail to
-- soporte@ with ventas@ in Cc makes one case, and the case lists both.
CREATE TABLE case_addresses (
    case_id BIGINT NOT NULL REFERENCES cases (id),
    address TEXT NOT NULL,
    PRIMARY KEY (case_id, address)
);
