"""docs/model_zoo.md agrees with the configs it names (issue 12 item 2).

A model zoo goes stale silently: a renamed config, a recipe that starts from a new file, a
row whose views are not what the config tests. The page's tables are parsed here and held
against the configs themselves. Nothing is downloaded.
"""
import glob
import os.path as osp
import re
from typing import Dict, List

import pytest
from mmengine import Config

DOC = 'docs/model_zoo.md'
RECIPE_DIR = 'configs/recognition/swin'
RECIPES = sorted(glob.glob(f'{RECIPE_DIR}/*.py'))
CLASSES = {'K400': 400, 'K600': 600, 'K700': 700, 'SSv2': 174}
# the dataset as the official checkpoints' file names spell it
OFFICIAL_NAME = {'K400': 'kinetics400', 'K600': 'kinetics600', 'SSv2': 'sthv2'}
CROPS = {'ThreeCrop': 3, 'CenterCrop': 1}
RELEASED = ('Released by the Video Swin authors', 'Re-trained and released by mmaction2')


def tables(text: str) -> Dict[str, List[Dict[str, str]]]:
    """Every markdown table under its nearest heading, as rows keyed by column name,
    cells without backticks."""
    found: Dict[str, List[Dict[str, str]]] = {}
    heading, columns = None, None
    for line in text.splitlines():
        if re.match(r'#+ ', line):
            heading, columns = line.lstrip('#').strip(), None
        elif not line.startswith('|'):
            columns = None
        else:
            cells = [c.strip().replace('`', '') for c in line.strip().strip('|').split('|')]
            if columns is None:
                columns = cells
            elif not set(line) <= set('|-: '):
                found.setdefault(heading, []).append(dict(zip(columns, cells)))
    return found


@pytest.fixture(scope='module')
def doc() -> str:
    with open(DOC, encoding='utf-8') as f:
        return f.read()


@pytest.fixture(scope='module')
def zoo(doc) -> Dict[str, List[Dict[str, str]]]:
    return tables(doc)


def config_views(cfg) -> str:
    """The config's test views as the page writes them: clips×crops."""
    pipeline = cfg.test_dataloader.dataset.pipeline
    sampler = next(t for t in pipeline if 'clip_len' in t)
    crops = [CROPS[t['type']] for t in pipeline if t['type'] in CROPS]
    assert len(crops) == 1
    return f"{sampler.get('num_clips', 1)}×{crops[0]}"


def released_rows(zoo):
    return [row for section in RELEASED for row in zoo[section]]


def test_doc_holds_every_table(zoo):
    assert len(zoo[RELEASED[0]]) == 6 and len(zoo[RELEASED[1]]) == 5
    assert len(zoo['Not released']) == 4
    assert zoo['3D: the SSv2 recipe\'s initialisation'] and zoo['2D: ImageNet Swin']


def test_readme_links_the_model_zoo():
    with open('README.md', encoding='utf-8') as f:
        assert '(docs/model_zoo.md)' in f.read()


def test_every_swin_recipe_is_on_the_page(zoo):
    named = {row['config'] for section in (*RELEASED, 'Not released') for row in zoo[section]}
    assert named <= set(RECIPES), named - set(RECIPES)
    assert set(RECIPES) <= named, set(RECIPES) - named


def test_released_rows_match_their_config_and_have_their_command(zoo, doc):
    for row in released_rows(zoo):
        config, url = row['config'], row['checkpoint']
        assert osp.isfile(config), config
        cfg = Config.fromfile(config)
        assert cfg.model.cls_head.num_classes == CLASSES[row['dataset']], config

        assert row['views'] == config_views(cfg), config

        assert re.fullmatch(r'https://[\w./-]+\.pth', url), url
        if url.startswith('https://github.com/SwinTransformer/'):
            assert f"_{OFFICIAL_NAME[row['dataset']]}" in osp.basename(url), url
        else:
            stem = osp.splitext(osp.basename(config))[0]
            assert f'/{stem}/{stem}_' in url, url
        assert f'python tools/test.py {config} {url}\n' in doc, config


def test_not_released_rows_name_existing_configs_and_their_views(zoo):
    for row in zoo['Not released']:
        assert osp.isfile(row['config']), row['config']
        cfg = Config.fromfile(row['config'])
        assert cfg.model.cls_head.num_classes == CLASSES[row['dataset']], row['config']
        assert row['views'].split(' ')[0] == config_views(cfg), row['config']


def init_tables(zoo) -> Dict[str, Dict[str, set]]:
    """``pretrained`` / ``load_from`` -> {URL: set of recipe file names that use it}."""
    def used_by(rows, column):
        return {row['URL']: {name.strip() for name in row[column].split(',')
                             if name.strip().endswith('.py')} for row in rows}
    return {'pretrained': used_by(zoo['2D: ImageNet Swin'], 'used by (model.backbone.pretrained)'),
            'load_from': used_by(zoo["3D: the SSv2 recipe's initialisation"],
                                 'used by (load_from)')}


def test_each_recipes_starting_checkpoint_is_listed_with_its_users(zoo):
    listed = init_tables(zoo)
    seen = {'pretrained': {}, 'load_from': {}}
    for config in RECIPES:
        cfg = Config.fromfile(config)
        for key, url in (('pretrained', cfg.model.backbone.pretrained),
                         ('load_from', cfg.get('load_from'))):
            if url is not None:
                assert url in listed[key], f'{config}: {key} {url} is not in {DOC}'
                seen[key].setdefault(url, set()).add(osp.basename(config))
    for key in listed:
        for url, users in listed[key].items():
            assert users == seen[key].get(url, set()), url
