"""CRM: customers, subscriptions and complaint tickets."""
