"""A plugin whose import fails."""
raise ImportError("this plugin needs libfoo 9.9, which is not installed")
