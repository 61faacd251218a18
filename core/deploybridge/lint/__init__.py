"""Static compatibility lints: what a backend would refuse, found without that backend installed."""
