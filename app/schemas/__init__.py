"""Pydantic request/response models: Create / Update / Public split, no I/O."""
