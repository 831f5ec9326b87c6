"""The rights holders' web pages: server-rendered, signed in with an API key."""
