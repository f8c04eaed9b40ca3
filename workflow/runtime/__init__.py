"""What runs on its own: the sweep, the scheduler, mail delivery, and what an operator watches."""
