"""Consumer verification: the GS1 resolver routes, the verdict, the scan log."""
