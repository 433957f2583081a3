"""Never finishes in time: used with --timeout."""
import time

print("starting a very long epoch", flush=True)
time.sleep(60)
