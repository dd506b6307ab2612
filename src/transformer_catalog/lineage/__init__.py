"""The Transformer's ancestors, each a short, faithful implementation in plain PyTorch whose learning
rule or update is written out (no optimiser or layer from a library carries the claim):

  perceptron.py   Rosenblatt's perceptron rule (1958): converges on separable data, never on XOR
  mlp.py          backpropagation written out (Rumelhart, Hinton & Williams 1986): XOR, the 8-3-8 encoder
  hopfield.py     Hebbian storage and the asynchronous update (Hopfield 1982): capacity about 0.138 N
  elman.py        a simple recurrent network predicting letters (Elman 1990): surprise at word onsets
  lstm.py         the LSTM and a tanh RNN cell on the adding problem (Hochreiter & Schmidhuber 1997)
  cnn.py          a LeNet-style CNN against an MLP on Fashion-MNIST (LeCun 1998): weight sharing
  rbm.py          a restricted Boltzmann machine trained by CD-1 (Hinton et al. 2006): features for digits
  autoencoder.py  a deep autoencoder against PCA at a 30-unit code (Hinton & Salakhutdinov 2006)
  vae.py          a variational autoencoder, its ELBO and a 2-D latent manifold (Kingma & Welling 2013)
  gan.py          a DCGAN-style generator and discriminator (Goodfellow et al. 2014)
  gcn.py          graph convolution propagation (Kipf & Welling 2017) on Zachary's karate club
  seq2seq.py      an LSTM encoder-decoder with additive attention (Bahdanau et al. 2014)

The experiments (experiments/lineage_*.py) run them against their claims; `tcat lineage list|run`.
"""
