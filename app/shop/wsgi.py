from app.shop import create_app

app = create_app()
