"""The composition root of the `pilotshare` command: it assembles the command lines of the parts."""
