"""NumPy reference for DDPM sampling with a learned variance, as the DiT repository does it
(tests/Tessera.Models.Tests/Diffusion/LearnedVarianceTests.cs).

Usage: ddpm_reference.py IN.safetensors OUT.safetensors, as nn_reference.py (whose reader, writer and case loop it
uses). Written from facebookresearch/DiT's diffusion/respace.py (space_timesteps, SpacedDiffusion's respaced betas) and
diffusion/gaussian_diffusion.py (the posterior tables, p_mean_variance with ModelVarType.LEARNED_RANGE and
ModelMeanType.EPSILON, clip_denoised=False as sample.py calls it, p_sample, p_sample_loop), in float64."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Nn"))
import nn_reference as base  # noqa: E402
from nn_reference import torch  # noqa: E402


def respaced_timesteps(train_steps, count):
    """space_timesteps(T, str(count)) with one section: the stride added up in floating point, Python's round()."""
    stride = 1 if count <= 1 else (train_steps - 1) / (count - 1)
    taken, at = [], 0.0
    for _ in range(count):
        taken.append(round(at))
        at += stride
    return sorted(set(taken))


def respaced_betas(betas, use):
    """SpacedDiffusion: new beta_i = 1 - abar[t_i] / abar[t_{i-1}] over the kept timesteps."""
    abar, last, out = np.cumprod(1.0 - betas), 1.0, []
    for t in use:
        out.append(1.0 - abar[t] / last)
        last = abar[t]
    return np.array(out, dtype=np.float64)


def p_sample(betas, i, x, model_output, noise):
    """One reverse step at chain index i: p_mean_variance (learned range, epsilon) and p_sample's draw."""
    alphas = 1.0 - betas
    abar = np.cumprod(alphas)
    abar_prev = np.append(1.0, abar[:-1])
    post_var = betas * (1.0 - abar_prev) / (1.0 - abar)
    post_log_var_clipped = np.log(np.append(post_var[1], post_var[1:]))
    coef1 = betas * np.sqrt(abar_prev) / (1.0 - abar)
    coef2 = (1.0 - abar_prev) * np.sqrt(alphas) / (1.0 - abar)
    c = x.shape[1]
    eps, values = model_output[:, :c], model_output[:, c:]
    min_log, max_log = post_log_var_clipped[i], np.log(betas[i])
    frac = (values + 1) / 2
    log_variance = frac * max_log + (1 - frac) * min_log
    pred_xstart = np.sqrt(1.0 / abar[i]) * x - np.sqrt(1.0 / abar[i] - 1) * eps
    mean = coef1[i] * pred_xstart + coef2[i] * x
    sample = mean + (1.0 if i != 0 else 0.0) * np.exp(0.5 * log_variance) * noise
    return mean, log_variance, pred_xstart, sample


def case_dit_p_sample(c):
    train = c["train_steps"]
    betas = np.linspace(1e-4, 0.02, train, dtype=np.float64)  # DiT's "linear" at T = 1000
    use = respaced_timesteps(train, c["steps"])
    spaced = respaced_betas(betas, use)
    x, out, z = (c.t(n).numpy() for n in ("x", "out", "z"))
    mean, log_variance, pred_xstart, sample = p_sample(spaced, c["index"], x, out, z)
    return {"mean": torch.from_numpy(mean), "log_variance": torch.from_numpy(log_variance),
            "pred_xstart": torch.from_numpy(pred_xstart), "sample": torch.from_numpy(sample),
            "timesteps": torch.tensor(use, dtype=torch.float64)}


def case_dit_ddpm_loop(c):
    """DiT's sample.py loop with a learned-sigma DiT from the paper's models.py (dit_original_reference.py): respaced
    p_sample_loop from the given x_T with the given per-step noise, classifier-free guidance on the epsilon half (all
    channels: the standard form that forward_with_cfg's comment offers), the variance from the conditional half; also
    saves the model with torch.save as the original checkpoints are (spec "pt")."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import dit_original_reference as dor
    model = base.load(dor.DiT(c.spec, False), c, "model")
    torch.save({k: v.float() for k, v in model.state_dict().items()}, c["pt"])
    train = c["train_steps"]
    use = respaced_timesteps(train, c["steps"])
    spaced = respaced_betas(np.linspace(1e-4, 0.02, train, dtype=np.float64), use)
    x, z = c.t("x").numpy(), c.t("z").numpy()
    ch = x.shape[1]
    y = torch.tensor(c["y"], dtype=torch.long)
    null = torch.full_like(y, c["null"])
    scale = c["cfg"]
    for k, i in enumerate(reversed(range(len(use)))):
        t = torch.full((x.shape[0],), float(use[i]), dtype=torch.float64)
        xt = torch.from_numpy(x)
        out = model(xt, t, y)
        if scale != 1:
            uncond = model(xt, t, null)
            eps = uncond[:, :ch] + scale * (out[:, :ch] - uncond[:, :ch])
            out = torch.cat([eps, out[:, ch:]], dim=1)
        x = p_sample(spaced, i, x, out.numpy(), z[k])[3]
    return {"sample": torch.from_numpy(x)}


base.case_dit_p_sample = case_dit_p_sample
base.case_dit_ddpm_loop = case_dit_ddpm_loop

if __name__ == "__main__":
    base.main()
