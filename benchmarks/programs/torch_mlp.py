"""The tutorial's MLP in PyTorch (eager): same data, init, loss, SGD, cadence."""
import math
import os

import _bench  # first: it notes the process start time
import mnist_idx


def main():
    args = _bench.parse_args(__doc__)
    import torch
    from torch import nn
    if args.threads:
        torch.set_num_threads(args.threads)
        torch.set_num_interop_threads(args.threads)
    torch.manual_seed(args.seed)
    data_sets = mnist_idx.read_data_sets(args.data_dir, seed=args.seed)

    sizes = [_bench.IMAGE_PIXELS, args.hidden1, args.hidden2,
             _bench.NUM_CLASSES]
    layers = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        linear = nn.Linear(n_in, n_out)
        std = 1.0 / math.sqrt(n_in)
        nn.init.trunc_normal_(linear.weight, std=std, a=-2 * std, b=2 * std)
        nn.init.zeros_(linear.bias)
        layers += [linear, nn.ReLU()]
    model = nn.Sequential(*layers[:-1])  # the logits layer is linear
    optimizer = torch.optim.SGD(model.parameters(), lr=args.learning_rate)
    cross_entropy = nn.CrossEntropyLoss()  # mean of sparse softmax xent

    def train_step(images, labels):
        logits = model(torch.from_numpy(images))
        loss = cross_entropy(logits, torch.from_numpy(labels).long())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    def eval_batch(images, labels):
        with torch.inference_mode():
            logits = model(torch.from_numpy(images))
            target = logits.gather(1, torch.from_numpy(labels).long()[:, None])
            # in_top_k(k=1): ties with the maximum count as correct
            return int((target[:, 0] >= logits.max(dim=1).values).sum())

    def checkpoint(step):
        torch.save(model.state_dict(),
                   os.path.join(args.log_dir, 'model.ckpt-%d.pt' % step))

    result = _bench.train_and_evaluate(args, data_sets, train_step, eval_batch, checkpoint)
    _bench.emit('torch', args, result, framework_version=torch.__version__,
                torch_threads=torch.get_num_threads())


if __name__ == '__main__':
    main()
