"""telco-dw: customer-satisfaction warehouse for telecom operators."""

__version__ = "0.1.0"
