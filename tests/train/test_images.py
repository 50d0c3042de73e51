"""Tests for minigan/train/images.py: the layout and pixel values of sample grids, and the
PNG files of grids, point plots and loss curves."""
import numpy as np
import pytest
from PIL import Image

from minigan.train.images import image_grid, save_image_grid, save_loss_plot, save_points_plot


def _pixels(x):
    """[-1, 1] -> {0..255}, rounding halves up."""
    return np.floor((x + 1) * 127.5 + 0.5).astype(np.uint8)


def _constant_images(n, c, h, w):
    """Image i is filled with the value -1 + 2 i / (n - 1), spread over [-1, 1]."""
    values = np.linspace(-1, 1, n, dtype=np.float32)
    return np.broadcast_to(values[:, None, None, None], (n, c, h, w)).copy(), values


@pytest.mark.parametrize("n, nrow, rows, cols", [(5, 3, 2, 3), (4, None, 2, 2),
                                                 (10, None, 3, 4), (1, None, 1, 1)])
def test_grid_places_images_row_major_between_padding(n, nrow, rows, cols):
    h, w, pad = 2, 3, 2
    images, values = _constant_images(n, 1, h, w)
    grid = image_grid(images, nrow=nrow, padding=pad)
    assert grid.shape == (rows * (h + pad) + pad, cols * (w + pad) + pad, 1)
    assert grid.dtype == np.uint8
    filled = np.zeros(grid.shape[:2], bool)
    for i in range(n):
        r, q = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + q * (w + pad)
        cell = grid[top:top + h, left:left + w, 0]
        assert np.all(cell == _pixels(values[i]))
        filled[top:top + h, left:left + w] = True
    assert np.all(grid[~filled] == 0)               # padding and empty cells are black


def test_grid_maps_minus_one_to_black_and_one_to_white_and_clips():
    images = np.array([-1.0, 0.0, 1.0, -3.0, 2.0], np.float32).reshape(5, 1, 1, 1)
    grid = image_grid(images, nrow=5, padding=0)
    assert grid[0, :, 0].tolist() == [0, 128, 255, 0, 255]


def test_grid_of_colour_images_puts_channels_last():
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (2, 3, 4, 5)).astype(np.float32)
    grid = image_grid(images, nrow=2, padding=1)
    assert grid.shape == (4 + 2, 2 * (5 + 1) + 1, 3)
    expected = _pixels(images)                                      # (2, 3, 4, 5)
    np.testing.assert_array_equal(grid[1:5, 1:6], expected[0].transpose(1, 2, 0))
    np.testing.assert_array_equal(grid[1:5, 7:12], expected[1].transpose(1, 2, 0))


@pytest.mark.parametrize("shape", [(4, 2, 3, 3), (3, 3, 3), (2, 4, 8, 8)])
def test_grid_rejects_other_shapes(shape):
    with pytest.raises(ValueError, match=r"image_grid: expected \(N, 1 or 3, H, W\)"):
        image_grid(np.zeros(shape, np.float32))


@pytest.mark.parametrize("channels, mode", [(1, "L"), (3, "RGB")])
def test_saved_grid_is_the_grid_scaled_up(tmp_path, channels, mode):
    images, _ = _constant_images(3, channels, 4, 4)
    path = tmp_path / "grid.png"
    save_image_grid(images, path, nrow=3, scale=2)
    with Image.open(path) as picture:
        assert picture.mode == mode
        pixels = np.asarray(picture)
    grid = image_grid(images, nrow=3)
    expected = grid.repeat(2, axis=0).repeat(2, axis=1)
    np.testing.assert_array_equal(pixels, expected[..., 0] if channels == 1 else expected)


def test_points_plot_and_loss_plot_write_pngs(tmp_path):
    rng = np.random.default_rng(0)
    samples, data = rng.standard_normal((50, 2)), rng.standard_normal((60, 2))
    calls = []

    def critic(points):
        calls.append(points.shape)
        return points[:, 0] ** 2 - points[:, 1]
    save_points_plot(samples, data, tmp_path / "points.png", critic, title="t")
    save_loss_plot([1, 2, 3], {"d_loss": [1.0, 0.5, 0.2], "g_loss": [0.1, 0.3, 0.2]},
                   tmp_path / "losses.png")
    assert calls == [(80 * 80, 2)]                    # the critic's value on an 80 x 80 grid
    for name in ["points.png", "losses.png"]:
        with Image.open(tmp_path / name) as picture:
            assert picture.format == "PNG" and min(picture.size) > 100
