"""The ledger import, one module per stage in the order a line travels.

1. `inspection`: the file is opened and looked at (columns, formats, mapping); the options and the
   reasons a row can be refused.
2. `validate`: each chunk is parsed, checked and converted; dedupe keys recognise lines seen before.
3. `write`: the checked chunks go into the ledger in key order, and the rollups take the deltas.
4. `ledger`: `import_ledger`, which drives 1–3 over a whole file in two passes.
5. `batch`: the batch's record (progress, outcome) and what follows a change to the numbers.
6. `rollback`: a batch undone. `small`: exchange rates and subscriptions, read whole.

Callers go through `keyplan.revenue.services`.
"""
