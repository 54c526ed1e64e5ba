"""Signed protocols: registering a signature (its confirmation, its time, the rules' view of the
registry), and the registry's verdict on a seal, for the API, the page and the check by number."""
