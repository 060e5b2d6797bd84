"""The takedown desk: notices, decisions, measures, counter-notices, statements of reasons and reports."""
