"""What every stage runs on: the supervisor of long-lived threads and the clocks."""
