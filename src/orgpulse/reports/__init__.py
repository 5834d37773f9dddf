"""Reports: PDF business review, portfolio summary and employer quarterly report, and the
scheduled report subscriptions that mail them."""
