package poller
