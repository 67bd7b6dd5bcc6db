import "@minibatch/backend-cpu";
import * as mb from "@minibatch/tensor";
import { tensor, zeros } from "@minibatch/tensor";
import { describe, expect, it } from "vitest";
import * as init from "./init";
import { GELU } from "./layers/activation";
import { Conv1d, Conv2d, ConvTranspose2d } from "./layers/conv";
import { Dropout, dropout } from "./layers/dropout";
import { Embedding } from "./layers/embedding";
import { Linear } from "./layers/linear";
import { AdaptiveAvgPool2d, AvgPool2d, MaxPool2d } from "./layers/pooling";
import { interpolate, Upsample } from "./layers/upsample";
import {
  BCELoss,
  BCEWithLogitsLoss,
  CrossEntropyLoss,
  crossEntropy,
  HuberLoss,
  huberLoss,
  KLDivLoss,
  L1Loss,
  MSELoss,
  mseLoss,
  NLLLoss,
  SmoothL1Loss,
} from "./losses";
import { CosineEmbeddingLoss, CosineSimilarity, MarginRankingLoss } from "./similarity";

describe("unknown option keys are errors with a 'did you mean' hint", () => {
  const cases: [string, () => unknown, RegExp][] = [
    [
      "Linear",
      () => new Linear(2, 3, { bais: false } as any),
      /Linear: unknown option 'bais'.*did you mean 'bias'/,
    ],
    ["Conv2d", () => new Conv2d(1, 1, 3, { dilations: 2 } as any), /Conv2d: .*did you mean 'dilation'/],
    ["Conv1d", () => new Conv1d(1, 1, 3, { padding_mode: "reflect" } as any), /did you mean 'paddingMode'/],
    ["ConvTranspose2d", () => new ConvTranspose2d(1, 1, 3, { output_padding: 1 } as any), /'outputPadding'/],
    ["MaxPool2d", () => new MaxPool2d(2, { ceil_mode: true } as any), /MaxPool2d: .*did you mean 'ceilMode'/],
    ["AvgPool2d", () => new AvgPool2d(2, { count_include_pad: false } as any), /'countIncludePad'/],
    [
      "AvgPool2d dilation",
      () => new AvgPool2d(2, { dilation: 2 } as any),
      /AvgPool2d: unknown option 'dilation'/,
    ],
    ["Upsample", () => new Upsample({ scale_factor: 2 } as any), /did you mean 'scaleFactor'/],
    [
      "interpolate",
      () => interpolate(zeros([1, 1, 2, 2]), { size: 4, align_corners: true } as any),
      /'alignCorners'/,
    ],
    ["Dropout", () => new Dropout(0.5, { seed: 1 } as any), /Dropout: unknown option 'seed'/],
    ["dropout", () => dropout(zeros([2]), 0.5, { gen: 1 } as any), /did you mean 'generator'/],
    ["Embedding", () => new Embedding(4, 2, { padding_idx: 0 } as any), /did you mean 'paddingIdx'/],
    ["GELU", () => new GELU({ approx: "tanh" } as any), /GELU: unknown option 'approx'/],
    ["CrossEntropyLoss", () => new CrossEntropyLoss({ label_smoothing: 0.1 } as any), /'labelSmoothing'/],
    [
      "crossEntropy",
      () => crossEntropy(zeros([1, 2]), tensor(Int32Array.from([0]), [1]), { ignore_index: 1 } as any),
      /'ignoreIndex'/,
    ],
    ["NLLLoss", () => new NLLLoss({ reduce: "sum" } as any), /did you mean 'reduction'/],
    ["MSELoss", () => new MSELoss({ reductions: "sum" } as any), /did you mean 'reduction'/],
    [
      "mseLoss",
      () => mseLoss(zeros([2]), zeros([2]), { size_average: true } as any),
      /unknown option 'size_average'/,
    ],
    ["L1Loss", () => new L1Loss({ beta: 1 } as any), /L1Loss: unknown option 'beta'/],
    ["HuberLoss", () => new HuberLoss({ delt: 1 } as any), /did you mean 'delta'/],
    ["huberLoss beta", () => huberLoss(zeros([2]), zeros([2]), { beta: 1 } as any), /unknown option 'beta'/],
    ["SmoothL1Loss", () => new SmoothL1Loss({ delta: 1 } as any), /SmoothL1Loss: unknown option 'delta'/],
    ["KLDivLoss", () => new KLDivLoss({ log_target: true } as any), /did you mean 'logTarget'/],
    ["BCELoss", () => new BCELoss({ pos_weight: null } as any), /BCELoss: unknown option 'pos_weight'/],
    [
      "BCEWithLogitsLoss",
      () => new BCEWithLogitsLoss({ pos_weight: null } as any),
      /did you mean 'posWeight'/,
    ],
    [
      "CosineSimilarity",
      () => new CosineSimilarity({ axis: 1 } as any),
      /CosineSimilarity: unknown option 'axis'/,
    ],
    ["CosineEmbeddingLoss", () => new CosineEmbeddingLoss({ margn: 0 } as any), /did you mean 'margin'/],
    ["MarginRankingLoss", () => new MarginRankingLoss({ Margin: 0 } as any), /did you mean 'margin'/],
    [
      "init.kaimingNormal_",
      () => init.kaimingNormal_(zeros([2, 2]), { fan_mode: "fan_in" } as any),
      /unknown option 'fan_mode'/,
    ],
    ["init.uniform_", () => init.uniform_(zeros([2]), 0, 1, { seed: 1 } as any), /unknown option 'seed'/],
    ["init.orthogonal_", () => init.orthogonal_(zeros([2, 2]), { gian: 1 } as any), /did you mean 'gain'/],
    ["init.sparse_", () => init.sparse_(zeros([2, 2]), 0.5, { sigma: 1 } as any), /unknown option 'sigma'/],
  ];
  for (const [name, make, msg] of cases) {
    it(name, () => {
      expect(make).toThrow(msg);
    });
  }

  it("the tensor ops behind the layers reject unknown options too", () => {
    const x = zeros([1, 1, 4, 4]);
    expect(() => mb.maxPool2d(x, 2, { ceilMode: true } as any)).toThrow(
      /maxPool2d: unknown option 'ceilMode' in the options \(known: stride, padding\)/,
    );
    expect(() => mb.avgPool2d(x, 2, { count_include_pad: false } as any)).toThrow(
      /avgPool2d: unknown option/,
    );
    expect(() => mb.conv2d(x, zeros([1, 1, 3, 3]), null, { padding_mode: "reflect" } as any)).toThrow(
      /conv2d: unknown option 'padding_mode'/,
    );
    expect(() => mb.convTranspose2d(x, zeros([1, 1, 3, 3]), null, { output_padding: 1 } as any)).toThrow(
      /did you mean 'outputPadding'/,
    );
    x.dispose();
  });

  it("pooling and upsampling options that are not implemented are rejected, never ignored", () => {
    expect(() => new MaxPool2d(2, { returnIndices: true } as any)).toThrow(/returnIndices is not supported/);
    expect(() => interpolate(zeros([1, 1, 2, 2]), { size: 4, mode: "bicubic" as any })).toThrow(
      /mode must be 'nearest', 'linear' or 'bilinear', got 'bicubic'/,
    );
    expect(() => interpolate(zeros([1, 1, 2, 2]), { size: 4, alignCorners: true })).toThrow(
      /alignCorners can only be set with 'linear' or 'bilinear'/,
    );
    expect(() => interpolate(zeros([1, 1, 2, 2]), { size: 4, scaleFactor: 2 })).toThrow(
      /exactly one of size and scaleFactor/,
    );
    expect(() => new AdaptiveAvgPool2d(0)).toThrow(/outputSize must be a positive integer/);
    expect(() => new AvgPool2d(2, { divisorOverride: 0 })).toThrow(
      /divisorOverride must be a positive integer/,
    );
    expect(() => new MaxPool2d(2, { padding: 2 })).toThrow(/padding \[2,2\] must be at most half the kernel/);
  });
});
