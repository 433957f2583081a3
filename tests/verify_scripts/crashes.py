"""Fails before training: expected SCRIPT FAILED with the log tail."""
print("loading configuration")
raise ValueError("boom: config key 'lr' missing")
