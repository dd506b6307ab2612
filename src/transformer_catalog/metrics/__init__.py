"""Image metrics that need no downloaded weights (layer 2: imports only errors, files, runtime, nn, data).

FID normally measures a generator in the feature space of Inception-v3, whose weights cannot be fetched
here. These metrics use a small Fashion-MNIST CNN trained here instead (classifier.py), so their numbers
are comparable with each other, never with published FIDs:

  FID-CNN   the Fréchet distance between Gaussians fitted to the classifier's penultimate features of
            generated samples and of the 10,000 real test images (frechet.py)
  CAS       Classification Accuracy Score: the classifier's accuracy on generated samples, each labelled
            by the class it was generated for

`images.score(samples, labels)` computes both; `images.reference()` gives the real data's values (real
train images against the test set, accuracy on the test set), what a perfect generator would approach.
"""
