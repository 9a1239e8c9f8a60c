"""Billing: accounts, invoices and payments."""
