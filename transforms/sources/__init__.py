"""Where entries come from: feed lists read once (batch), polled (streaming), Pub/Sub."""
