"""REST machinery every app's API shares: one error shape, cursor pagination, access classes,
conditional responses, strict filters and throttling."""
