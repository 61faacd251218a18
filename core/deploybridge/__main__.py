from deploybridge.cli import run

run()
