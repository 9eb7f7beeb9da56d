"""The testing kit shipped with minutebill: strategies, contract suites and fakes."""
