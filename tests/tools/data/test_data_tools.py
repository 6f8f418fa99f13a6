"""tools/data: build_kinetics_list.py, build_sthv2_list.py and check_videos.py on real files."""

import pytest

from videoswin.datasets import KineticsDataset, SthV2Dataset
from videoswin.datasets.annotations import parse_video_list, read_class_names
from videoswin.testing.sample_data import make_kinetics, make_sthv2

from helpers import load_tool


@pytest.fixture(scope='module')
def kinetics(tmp_path_factory):
    return make_kinetics(tmp_path_factory.mktemp('k700'),
                         classes=('zumba', 'air drumming', 'abseiling', 'yoga'),
                         clips_per_class={'train': 2, 'val': 1}, not_downloaded=3,
                         damaged={'tr0x1-zum': 'zero', 'va3x0-yog': 'garbage',
                                  'va1x0-air': 'truncated'})


@pytest.fixture(scope='module')
def sthv2(tmp_path_factory):
    return make_sthv2(tmp_path_factory.mktemp('ssv2tools'), damaged={'1003': 'missing'})


def test_kinetics_lists_and_sorted_class_index_from_the_csvs(kinetics, tmp_path, capsys):
    out = tmp_path / 'lists'
    rc = load_tool('data/build_kinetics_list').main([
        str(kinetics['csv']['train']), str(kinetics['csv']['val']),
        '--video-root', str(kinetics['video_root']), '--out-dir', str(out),
        '--dataset', 'kinetics700'])
    assert rc == 0
    assert read_class_names(out / 'kinetics700_classes.txt') == [
        'abseiling', 'air drumming', 'yoga', 'zumba']
    printed = capsys.readouterr()
    assert '4 classes, but kinetics700 has 700' in printed.err
    assert 'kinetics700_train_list_videos.txt: 8 of 11 clips; 3 have no video' in printed.out
    assert (out / 'kinetics700_val_missing.txt').read_text().splitlines() == [
        'goneval0_000000_000010', 'goneval1_000000_000010', 'goneval2_000000_000010']
    # the list file and the CSV give the dataset the same samples and labels
    root = dict(video=str(kinetics['video_root']))
    for split in ('train', 'val'):
        from_list = KineticsDataset(str(out / f'kinetics700_{split}_list_videos.txt'), [],
                                    data_prefix=root, num_classes=4)
        from_csv = KineticsDataset(str(kinetics['csv'][split]), [], data_prefix=root, num_classes=4)
        assert [from_list.get_data_info(i)['label'] for i in range(len(from_list))] == \
            [from_csv.get_data_info(i)['label'] for i in range(len(from_csv))]
        assert [from_list.get_data_info(i)['filename'] for i in range(len(from_list))] == \
            [from_csv.get_data_info(i)['filename'] for i in range(len(from_csv))]
    lines = (out / 'kinetics700_train_list_videos.txt').read_text().splitlines()
    assert 'train/air drumming/tr1x0-air_000003_000013.mp4 1' in lines  # spaces kept


def test_a_given_class_index_is_used_and_foreign_labels_are_an_error(kinetics, tmp_path):
    classes = tmp_path / 'classes.txt'
    classes.write_text('zumba\nyoga\nair drumming\nabseiling\n')
    build = load_tool('data/build_kinetics_list')
    build.main([str(kinetics['csv']['val']), '--video-root', str(kinetics['video_root']),
                '--out-dir', str(tmp_path), '--class-index', str(classes)])
    labels = {line.rsplit(' ', 1)[0].split('/')[1]: int(line.rsplit(' ', 1)[1]) for line in
              (tmp_path / 'kinetics400_val_list_videos.txt').read_text().splitlines()}
    assert labels == {'zumba': 0, 'air drumming': 2, 'abseiling': 3, 'yoga': 1}
    classes.write_text('zumba\n')
    with pytest.raises(ValueError, match=r"val.csv:\d+: class '.+' is not in the class index"):
        build.main([str(kinetics['csv']['val']), '--video-root', str(kinetics['video_root']),
                    '--out-dir', str(tmp_path), '--class-index', str(classes)])


def test_sthv2_lists_from_the_jsons_with_missing_videos_counted(sthv2, tmp_path, capsys):
    rc = load_tool('data/build_sthv2_list').main([str(sthv2['labels'].parent), '--out-dir', str(tmp_path),
                                        '--video-root', str(sthv2['video_root'])])
    assert rc == 0
    assert read_class_names(tmp_path / 'sthv2_classes.txt') == sthv2['classes']
    printed = capsys.readouterr()
    assert 'sthv2_train_list_videos.txt: 7 videos; 1 missing' in printed.out
    assert '4 classes (the real SSv2 has 174)' in printed.err
    train = parse_video_list(tmp_path / 'sthv2_train_list_videos.txt')
    expected = [(f'{vid}.webm', label) for vid, label in sthv2['ids']['train'] if vid != '1003']
    assert [(s['filename'], s['label']) for s in train] == expected
    test = parse_video_list(tmp_path / 'sthv2_test_list_videos.txt')
    assert [s['label'] for s in test] == [-1] * 4
    val = SthV2Dataset(str(tmp_path / 'sthv2_val_list_videos.txt'), [], test_mode=True,
                       labels_file=str(sthv2['labels']),
                       data_prefix=dict(video=str(sthv2['video_root'])))
    assert [val.get_data_info(i)['label'] for i in range(len(val))] == [0, 1, 2, 3]


@pytest.mark.parametrize('backend, workers', [('pyav', 2), ('decord', 1)])
def test_check_videos_lists_exactly_the_unreadable_videos(kinetics, tmp_path, capsys, backend,
                                                          workers):
    lists = tmp_path / 'lists'
    load_tool('data/build_kinetics_list').main([str(kinetics['csv']['val']), '--video-root',
                                      str(kinetics['video_root']), '--out-dir', str(lists)])
    capsys.readouterr()
    rc = load_tool('data/check_videos').main([str(lists / 'kinetics400_val_list_videos.txt'), '--video-root',
                                    str(kinetics['video_root']), '--workers', str(workers),
                                    '--backend', backend, '--out', str(tmp_path / 'bad.txt')])
    printed = capsys.readouterr()
    bad = sorted(line.split('\t')[0] for line in (tmp_path / 'bad.txt').read_text().splitlines())
    assert rc == 1
    assert bad == sorted(str(kinetics['video_root'] / rel) for vid, _, rel, _ in
                         kinetics['clips']['val'] if vid in ('va3x0-yog', 'va1x0-air'))
    assert '2 of 4 videos cannot be read' in printed.err
    assert '4/4' in printed.err  # the progress bar reached the end


def test_check_videos_full_decode_passes_a_clean_list(kinetics, tmp_path):
    clean = tmp_path / 'clean.txt'
    clean.write_text(''.join(f'{rel} 0\n' for vid, _, rel, _ in kinetics['clips']['train']
                             if vid != 'tr0x1-zum'))
    assert load_tool('data/check_videos').main([str(clean), '--video-root', str(kinetics['video_root']),
                                      '--full']) == 0
