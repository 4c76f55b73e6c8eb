async def app(scope, receive, send):
    assert scope["type"] == "lifespan"
    message = await receive()
    assert message["type"] == "lifespan.startup"
    await send({"type": "lifespan.startup.failed", "message": "database unreachable"})
