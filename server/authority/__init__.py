"""What the registry vouches for: its keys and their hand-overs, the trust list, devices'
credentials and their revocation, the registry time it tells, and the audit log with its signed
checkpoints."""
