from app.inbox import create_app

app = create_app()
