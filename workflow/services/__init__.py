"""What can be done to a case and its programme, each a transaction of its own."""
