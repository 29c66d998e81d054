from pilotshare.cli import app

app()
