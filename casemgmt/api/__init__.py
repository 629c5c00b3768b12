"""The versioned REST API (/api/v1/): the shared framework every app's ``api/`` package builds on."""
