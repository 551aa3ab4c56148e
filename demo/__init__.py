"""The one-command demo: the whole system on this machine, running a real batch end to end."""
