"""Depends()/Security() providers, each as an `Annotated` alias for routers to declare."""
