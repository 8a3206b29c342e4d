"""pix2pix, CycleGAN and StarGAN (models/gan/pix2pix.py, cyclegan.py, stargan.py): the losses that make each
what it is, the image pool, translation as sampling, the measures and `minigen sample --input`."""
from __future__ import annotations

import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen import nn
from minigen.data import digit_domains
from minigen.models.evaluation import translation as measures
from minigen.models.gan.losses import reconstruction_loss

TINY = {"channels": [4, 8, 8], "d_channels": 4}


def tiny(name: str, **extra):
    mg.manual_seed(0)
    return models.create(name, **{**TINY, **extra})


class Shift(nn.Module):
    """A generator that is not the identity: x -> 0.5 x + 0.25."""

    def forward(self, x):
        return 0.5 * x + 0.25


class FirstChannel(nn.Module):
    """StarGAN's identity generator: the image channel of [x, one-hot(c)]."""

    def forward(self, stacked):
        return stacked[:, :1]


@pytest.mark.parametrize("norm", ["l1", "l2"])
def test_cycle_and_identity_losses_vanish_for_identity_generators(norm):
    model = tiny("cyclegan", cycle_norm=norm)
    a, b = (mg.tensor(x) for x in model.eval_batch("test"))
    a, b = a[:16], b[:16]
    model.g_ab, model.g_ba = nn.Identity(), nn.Identity()
    cycle, identity = model.cycle_and_identity(a, b, model.g_ab(a), model.g_ba(b))
    assert cycle.item() == 0.0 and identity.item() == 0.0
    model.g_ab = Shift()  # a generator that moves images makes both terms positive
    cycle, identity = model.cycle_and_identity(a, b, model.g_ab(a), model.g_ba(b))
    assert cycle.item() > 0.01 and identity.item() > 0.01
    expected = reconstruction_loss(b, 0.5 * b + 0.25, "l1").item()  # F = id: only G(b) moves b
    assert identity.item() == pytest.approx(expected, rel=1e-6)


def test_stargan_reconstruction_vanishes_for_an_identity_generator():
    model = tiny("stargan")
    model.generator = FirstChannel()  # G(x, c) = x whatever the domain
    x, c = model.eval_batch("test")
    fake = model.generate(x[:8], np.zeros(8, np.int64))
    assert reconstruction_loss(x[:8], model.generate(fake, c.numpy()[:8]), "l1").item() == 0.0


def test_image_pool_fills_then_swaps_half_the_time():
    model = tiny("cyclegan", pool_size=4)
    first = mg.tensor(np.arange(4, dtype=np.float32).reshape(4, 1, 1, 1) * np.ones((1, 1, 8, 8), np.float32))
    np.testing.assert_array_equal(model.query_pool(0, first).numpy(), first.numpy())  # filling: passed through
    np.testing.assert_array_equal(model.pool_a.numpy(), first.numpy())
    mg.manual_seed(1)
    values = np.arange(10, 210, dtype=np.float32)
    new = mg.tensor(values.reshape(200, 1, 1, 1) * np.ones((1, 1, 8, 8), np.float32))
    out = model.query_pool(0, new).numpy()[:, 0, 0, 0]
    swapped = out != values
    assert 0.35 < swapped.mean() < 0.65  # about half of D's fakes come from the history
    for i in np.flatnonzero(swapped):  # ... each an image stored before it: the first four or an earlier fake
        assert out[i] < 4 or (10 <= out[i] < values[i])
    # nothing is lost or duplicated: every image ever given is either returned or still in the pool
    everything = np.sort(np.concatenate([out, model.pool_a.numpy()[:, 0, 0, 0]]))
    np.testing.assert_array_equal(everything, np.sort(np.concatenate([np.arange(4.0), values])))
    np.testing.assert_array_equal(model.pool_b.numpy(), 0)  # the other direction's pool is untouched


def test_pix2pix_discriminator_judges_the_pair_and_l1_only_leaves_it_alone():
    model = tiny("pix2pix")
    x, y, _ = model.eval_batch("test")
    x, y = x[:4].detach().requires_grad_(), y[:4].detach().requires_grad_()
    gx, gy = mg.grad(model.pair_logits(x, y).sum(), [x, y])
    assert np.abs(gx.numpy()).sum() > 0 and np.abs(gy.numpy()).sum() > 0  # D(x, y) reads input and output
    l1_only = tiny("pix2pix", adv_weight=0.0)
    before = [p.numpy().copy() for p in l1_only.discriminator.parameters()]
    opts = l1_only.configure_optimizers()
    batches = iter(l1_only.loader("train", batch_size=16))
    losses = [l1_only.train_step(next(batches), opts, s)["l1"] for s in range(3)]
    for p, q in zip(l1_only.discriminator.parameters(), before):
        np.testing.assert_array_equal(p.numpy(), q)
    assert losses[-1] < losses[0]


def test_sample_translates_given_images_or_test_digits_of_given_labels():
    model = tiny("pix2pix")
    src, _, labels = digit_domains.paired("test", "outline", "digit")
    out = model.sample(5, src[:5])
    np.testing.assert_allclose(out.numpy(), model.translate_numpy(src[:5]), rtol=1e-6)
    images = model.conditioning_images(30, np.arange(30) % 10, np.random.default_rng(0))
    for img, label in zip(images, np.arange(30) % 10):  # each drawn image is a test outline of that digit
        hits = np.flatnonzero((src == img).all(axis=(1, 2, 3)))
        assert len(hits) and labels[hits[0]] == label
    with pytest.raises(TypeError, match="pix2pix"):
        model.sample(2, None)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.sample(2, src[:2] * 16)


def test_stargan_sends_each_image_to_the_asked_domain():
    model = tiny("stargan")
    x = digit_domains.paired("test", "digit", "digit").source[:3]
    with model.evaluating():
        a = model.sample(3, x, domain="rotated").numpy()
        b = model.translate(mg.tensor(x), np.full(3, model.domains.index("rotated"))).numpy()
        c = model.sample(3, x, domain="thin").numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    with pytest.raises(ValueError, match="unknown target domain"):
        model.sample(3, x, domain="bold")


def test_measures_on_real_and_identity_translations():
    """The domain classifier tells the real domains apart; a pix2pix whose generator is the identity scores
    exactly the identity baseline."""
    for dom in ("thin", "thick", "digit", "rotated"):
        images, labels = digit_domains.domain_images("test", dom)
        assert measures.domain_acc(images, dom) > 0.95
    model = tiny("pix2pix")
    model.generator = nn.Identity()
    m = model.metrics("test")
    assert m["test_l1"] == pytest.approx(m["test_l1_identity"], rel=1e-6)
    assert m["class_acc"] == m["class_acc_identity"]
    assert m["class_acc_real"] > 0.95 and m["domain_acc"] < 0.1  # outlines are not digits


def test_cyclegan_and_stargan_metrics_have_their_names():
    cyc = tiny("cyclegan").metrics("test")
    assert {"cycle_l1", "class_acc", "domain_acc", "test_l1"} <= set(cyc)
    for key in ("class_acc", "domain_acc", "class_acc_real"):  # the mean of the two directions (equal sizes)
        assert cyc[key] == pytest.approx(0.5 * (cyc[f"{key}_ab"] + cyc[f"{key}_ba"]))
    star = tiny("stargan", domains=["digit", "inverted"]).metrics("test")
    assert {"class_acc", "domain_acc", "test_l1"} <= set(star)
    assert all(0.0 <= star[k] <= 1.0 for k in ("class_acc", "domain_acc"))
    sizes = np.bincount(digit_domains.unpaired("test", ["digit", "inverted"]).domains)  # per source domain
    pairs = [star["class_acc_digit_inverted"], star["class_acc_inverted_digit"]]  # the two pairs make up class_acc
    assert star["class_acc"] == pytest.approx(float(sizes @ pairs) / sizes.sum())


def test_inputs_reads_splits_and_files(tmp_path):
    model = tiny("cyclegan")
    np.testing.assert_array_equal(model.inputs("valid"), digit_domains.domain_images("valid", "thin")[0])
    images = digit_domains.domain_images("test", "thin")[0][:3]
    np.save(tmp_path / "x.npy", images[:, 0])
    np.savez(tmp_path / "x.npz", other=np.zeros(2), images=images)
    np.testing.assert_array_equal(model.inputs(str(tmp_path / "x.npy")), images)
    np.testing.assert_array_equal(model.inputs(str(tmp_path / "x.npz")), images)
    with pytest.raises(ValueError, match="neither a split"):
        model.inputs(str(tmp_path / "missing.npy"))


def test_cli_sample_translates_a_split_and_a_file(tmp_path, capsys):
    from test_cli_runs import FAST, one_line_error, run_cli

    out = tmp_path / "run"
    status, _, err = run_cli(capsys, "train", "pix2pix", "--steps", "2", "--out", out, "--set", "channels=[4, 8, 8]",
                             "--set", "d_channels=4", "--batch-size", "16", *FAST)
    assert status == 0, err
    assert run_cli(capsys, "sample", "pix2pix", "--from", out, "--input", "valid", "--out", tmp_path / "v.png")[0] == 0
    saved = np.load(tmp_path / "v.npz")
    np.testing.assert_array_equal(saved["inputs"], digit_domains.domain_images("valid", "outline")[0])
    assert saved["samples"].shape == saved["inputs"].shape and (tmp_path / "v.png").exists()
    np.save(tmp_path / "few.npy", saved["inputs"][:3])
    assert run_cli(capsys, "sample", "pix2pix", "--from", out, "--input", tmp_path / "few.npy",
                   "--out", tmp_path / "f.png")[0] == 0
    np.testing.assert_allclose(np.load(tmp_path / "f.npz")["samples"], saved["samples"][:3], rtol=1e-6)
    assert "neither a split" in one_line_error(capsys, "sample", "pix2pix", "--from", out, "--input", "nowhere")


def test_stargan_identity_loss_vanishes_for_an_identity_generator_and_enters_the_update():
    model = tiny("stargan")
    x, c = model.eval_batch("test")
    x, c = x[:8], c.numpy()[:8]
    model.generator = FirstChannel()
    assert model.identity_loss(x, c).item() == 0.0
    model.generator = nn.Sequential(FirstChannel(), Shift())  # moves every image: the loss is |x - (0.5 x + 0.25)|
    assert model.identity_loss(x, c).item() == pytest.approx(reconstruction_loss(x, 0.5 * x + 0.25, "l1").item())
    grads = []
    for weight in (0.0, 10.0):  # the same update, with and without the identity term
        model = tiny("stargan", id_weight=weight)
        opt_g, _ = model.configure_optimizers()
        mg.manual_seed(1)
        grads.append(model.generator_update(x, c, opt_g)["g_grad_norm"])
    assert grads[0] != pytest.approx(grads[1], rel=1e-3)


@pytest.mark.parametrize("name", ["cyclegan", "stargan"])
def test_resnet_generator_option(name):
    model = tiny(name, generator="resnet", blocks=1)
    out = model.sample(4, np.arange(4))
    assert out.shape == (4, 1, 8, 8) and 0.0 < out.numpy().min() and out.numpy().max() < 1.0
    with pytest.raises(ValueError, match="generator must be"):
        tiny(name, generator="vgg")


def test_stargan_cond_norm_conditions_every_level_on_the_target_domain():
    model = tiny("stargan", cond_norm=True)
    assert len(model.generator.film) == 5
    x = model.eval_batch("test")[0][:6]
    before = model.translate_numpy(x.numpy(), "thick")
    other = model.translate_numpy(x.numpy(), "thin")
    t = model.domains.index("thick")
    model.generator.film[0].beta.data = model.generator.film[0].beta.data.copy()
    model.generator.film[0].beta.data[t] += 1.0  # only the target "thick" is shifted
    assert np.abs(model.translate_numpy(x.numpy(), "thick") - before).max() > 1e-3
    np.testing.assert_array_equal(model.translate_numpy(x.numpy(), "thin"), other)
    with pytest.raises(ValueError, match="built for generator=.unet. only"):
        tiny("stargan", cond_norm=True, generator="resnet")
    with pytest.raises(ValueError, match="input_skip needs cond_norm"):
        tiny("stargan", input_skip="gain")


def test_stargan_input_skip_uses_the_source_domain_that_its_critic_reads():
    model = tiny("stargan", cond_norm=True, input_skip="gain")
    x = model.eval_batch("test")[0][:6]
    d = len(model.domains)
    model.generator.pair_skip.data = np.zeros((d * d, 1), np.float32)
    model.generator.pair_skip.data[0 * d + 4] = -1.0  # the pair (digit -> rotated) inverts hard
    model.eval()
    as_digit = model.generate(x, np.full(6, 4), np.zeros(6, np.int64)).numpy()
    as_thick = model.generate(x, np.full(6, 4), np.ones(6, np.int64)).numpy()
    assert np.abs(as_digit - as_thick).max() > 0.1  # only the digit source's pair changed
    read = model.source_domains(x)
    assert read.shape == (6,) and read.dtype.kind == "i"
    np.testing.assert_array_equal(model.translate_numpy(x.numpy(), 4), model.generate(x, np.full(6, 4), read).numpy())
    warps = tiny("stargan", cond_norm=True, input_skip="warps")
    out = warps.sample(4, np.arange(4), domain="rotated").numpy()
    assert out.shape == (4, 1, 8, 8) and 0.0 < out.min() and out.max() < 1.0



def test_stargan_per_domain_critic_judges_each_image_by_its_domains_head_and_negatives_enter_the_critic():
    model = tiny("stargan", critic="per_domain")
    x, c = model.eval_batch("test")
    x, c = x[:6], c.numpy()[:6]
    h = model.discriminator.trunk(x)
    every = model.discriminator.head(h).numpy()  # (6, D, 3, 3): one patch map per domain
    assert every.shape == (6, len(model.domains), 3, 3)
    heads = np.array([0, 1, 2, 3, 4, 5])
    src, logits = model.critic_and_classes(x, heads)
    np.testing.assert_allclose(src.numpy(), every[np.arange(6), heads].reshape(6, 9), rtol=1e-5, atol=1e-6)
    assert model.critic_and_classes(x)[0] is None and logits.shape == (6, len(model.domains))
    turned = model.turned(x).numpy()
    for img, out in zip(x.numpy()[:, 0], turned[:, 0]):  # a non-identity symmetry of each image
        others = [np.rot90(img, k) for k in range(1, 4)] + [np.rot90(img.T, k) for k in range(4)]
        assert any(np.array_equal(out, o) for o in others)
    losses = []
    for negatives in (False, True):
        model = tiny("stargan", critic="per_domain", negatives=negatives)
        _, opt_d = model.configure_optimizers()
        mg.manual_seed(1)
        losses.append(model.critic_step(x, c, opt_d)["gp"])
    assert losses[0] != pytest.approx(losses[1], rel=1e-3)  # the negatives' penalty enters
    with pytest.raises(ValueError, match="critic must be one of"):
        tiny("stargan", critic="pair")
    shared = tiny("stargan", negatives=True)  # the class "turned" besides the domains; sources read among domains
    assert shared.critic_and_classes(x)[1].shape == (6, len(shared.domains) + 1)
    assert shared.source_domains(x).max() < len(shared.domains)


def test_symmetry_search_gives_each_pair_the_symmetry_its_classifier_reads_least_as_turned():
    from minigen.models.gan import symmetry_search

    model = tiny("stargan", domains=["digit", "thick"], cond_norm=True, input_skip="dihedral", negatives=True,
                 sym_search=100)
    gen = model.generator
    gen.up[2].weight.data = np.zeros_like(gen.up[2].weight.numpy())  # U-Net logits 0: G = sigmoid(4 g (2 T x - 1))
    gen.up[2].bias.data = np.zeros_like(gen.up[2].bias.numpy())
    image = np.zeros((1, 1, 8, 8), np.float32)
    image[0, 0, 0, :2] = 1.0  # two pixels on the top edge, at the left: no symmetry but the identity keeps them
    x = mg.tensor(np.repeat(image, 4, axis=0))
    domains = np.array([0, 0, 1, 1])

    def reads(out, heads=None):  # "turned" unless both pixels, and only they, sit where np.rot90 puts them
        o = out.numpy()
        turned = 20.0 * (2.0 - o[:, 0, 7, 0] - o[:, 0, 6, 0] + 4.0 * o.mean(axis=(1, 2, 3))) - 10.0
        return None, mg.tensor(np.stack([np.zeros(len(o)), np.zeros(len(o)), turned], 1).astype(np.float32))

    model.critic_and_classes = reads
    assert symmetry_search.choose_symmetries(model, x, domains) == 1.0  # both pairs left the identity
    assert list(gen.pair_sym.numpy().argmax(axis=1)[[1, 2]]) == [1, 1]  # pairs (0, 1) and (1, 0): the quarter turn
    np.testing.assert_array_equal(model.sym_count.numpy(), [0, 1, 1, 0])
    assert gen.symmetry is None and gen.forced_gain is None and model.generator.training
    out = symmetry_search.search_sample(model)
    assert out[0].shape == (2 * symmetry_search.SYM_SAMPLE, 1, 8, 8) and sorted(set(out[1])) == [0, 1]
    with pytest.raises(ValueError, match="sym_search chooses"):
        tiny("stargan", cond_norm=True, input_skip="dihedral", sym_search=10)  # no negatives


def test_orientation_choice_recovers_the_true_symmetries_where_one_pair_alone_would_pick_wrong():
    from minigen.models.gan import symmetry_search
    from minigen.models.gan.translation_nets import dihedral_matrices

    maps = dihedral_matrices()
    mul, inv = symmetry_search.dihedral_products()
    for i in range(8):
        np.testing.assert_array_equal(maps[inv[i]] @ maps[i], np.eye(64))
        for j in range(8):
            np.testing.assert_array_equal(maps[mul[i, j]], maps[i] @ maps[j])
    rng = np.random.default_rng(0)
    d = 6
    orient = np.concatenate([[0], rng.integers(0, 8, d - 1)])  # each domain's true orientation
    true = mul[orient[None, :], inv[orient[:, None]]].reshape(-1)  # k(s, t) = o_t o_s^-1
    cost = rng.uniform(0.5, 1.0, (d * d, 8))
    cost[np.arange(d * d), true] = rng.uniform(0.0, 0.3, d * d)
    src, tgt = 2, 4
    cost[src * d + tgt, true[src * d + tgt]] = 3.0  # one pair's score misleads (session 5's thin -> rotated)
    assert cost[src * d + tgt].argmin() != true[src * d + tgt]  # chosen alone, that pair takes a wrong symmetry
    np.testing.assert_array_equal(symmetry_search.orientation_choice(cost, d), true)  # jointly, all 30 right
    k = symmetry_search.orientation_choice(rng.uniform(size=(d * d, 8)), d).reshape(d, d)  # any costs: they compose
    for s, u, t in np.ndindex(d, d, d):
        assert k[s, t] == mul[k[u, t], k[s, u]]
    with pytest.raises(ValueError, match="at most 7 domains"):
        symmetry_search.orientation_choice(np.zeros((64, 8)), 8)


def test_symmetry_search_by_orientation_turns_into_and_out_of_a_turned_domain():
    from minigen.models.gan import symmetry_search

    model = tiny("stargan", domains=["digit", "rotated"], cond_norm=True, input_skip="dihedral", negatives=True,
                 sym_search=100, sym_choice="orientation")
    gen = model.generator
    gen.up[2].weight.data = np.zeros_like(gen.up[2].weight.numpy())  # U-Net logits 0: G = sigmoid(4 g (2 T x - 1))
    gen.up[2].bias.data = np.zeros_like(gen.up[2].bias.numpy())
    image = np.zeros((1, 1, 8, 8), np.float32)
    image[0, 0, 0, :2] = 1.0  # two pixels on the top edge, at the left; the rotated domain holds np.rot90 of it
    sources = [image, np.rot90(image, axes=(2, 3))]
    spots = {0: ((0, 0), (0, 1)), 1: ((7, 0), (6, 0))}  # where each domain has the two pixels
    target = [0]

    def reads(out, heads=None):  # "turned" unless both pixels, and only they, sit where the target domain has them
        o, (a, b) = out.numpy(), spots[target[0]]
        turned = 20.0 * (2.0 - o[:, 0, a[0], a[1]] - o[:, 0, b[0], b[1]] + 4.0 * o.mean(axis=(1, 2, 3))) - 10.0
        return None, mg.tensor(np.stack([np.zeros(len(o)), np.zeros(len(o)), turned], 1).astype(np.float32))

    model.critic_and_classes = reads
    for s in (0, 1):  # one source domain per search, so that reads knows the target (the other domain)
        target[0] = 1 - s
        symmetry_search.choose_symmetries(model, mg.tensor(np.repeat(sources[s], 2, axis=0)), np.full(2, s))
    assert list(gen.pair_sym.numpy().argmax(axis=1)[[1, 2]]) == [1, 3]  # a quarter turn in, its inverse out
    with pytest.raises(ValueError, match="sym_choice must be one of"):
        tiny("stargan", sym_choice="joint")
