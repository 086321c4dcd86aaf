"""Pure-Python domain: materials taxonomy, money, geography, life-cycles. No I/O."""
