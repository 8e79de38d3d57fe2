-- Guards for a public address: how many automatic mails each address got (loops and
-- floods), and addresses that hard-bounced (no more mail until they write again).

CREATE TABLE auto_mail_log (
    id      INTEGER PRIMARY KEY,
    address TEXT NOT NULL,
    kind    TEXT NOT NULL,
    sent_at INTEGER NOT NULL
);
CREATE INDEX auto_mail_log_address ON auto_mail_log (address, sent_at);

CREATE TABLE failing_addresses (
    address TEXT PRIMARY KEY,
    reason  TEXT NOT NULL,
    since   INTEGER NOT NULL
);
