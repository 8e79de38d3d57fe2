-- Who holds a lease, so a restarted buzon can take back at once what a crashed process on
-- the same machine was holding, instead of waiting for the lease to run out.
ALTER TABLE inbound_mail ADD COLUMN lease_owner TEXT;
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
