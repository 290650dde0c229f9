"""`make bench`: the stack's costs and reliability, measured side by side on this machine.

Run as `python -m bench`; it prints one table and writes bench/results.json.
"""
