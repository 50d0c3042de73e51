"""Train WGAN-div with its paper's defaults (minigan/zoo/wgan_div.py). `--help` lists
the options; the default dataset is embedded, so this runs offline."""
from minigan.train import main
from minigan.zoo.wgan_div import RECIPE

if __name__ == "__main__":
    main(RECIPE, default_dataset="digits")
