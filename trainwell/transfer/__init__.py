"""Transfer learning, the training half: load a trained model, new head, train it frozen, fine-tune.

The model surgery (find/replace the head, freeze, per-layer LR scales) is a part,
`trainwell.models.transfer`; this package drives training phases through the assembly.
"""
