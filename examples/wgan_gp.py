"""Train WGAN-GP with its paper's defaults (minigan/zoo/wgan_gp.py). `--help` lists
the options; the default dataset is embedded, so this runs offline."""
from minigan.train import main
from minigan.zoo.wgan_gp import RECIPE

if __name__ == "__main__":
    main(RECIPE, default_dataset="digits")
