"""What the topics promise their consumers: each topic's JSON Schema (``schemas``) and
the AsyncAPI document of the topics (``asyncapi``)."""
